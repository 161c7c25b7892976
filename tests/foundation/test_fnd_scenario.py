"""Generated and explicit scenarios: layout, numerology, task model, NetCDF and JSON input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr

from genoffload.errors import InputError
from genoffload.scenario import (
    from_document,
    generate,
    load_scenario,
    make_config,
    read_config_file,
    save,
)
from genoffload.scenario.dataset import VARIABLES


def test_dims_and_units(small_scenario: xr.Dataset) -> None:
    ds = small_scenario
    assert set(ds.dims) == {"cell", "user", "rb", "task"}
    assert (ds.sizes["cell"], ds.sizes["user"], ds.sizes["rb"]) == (1, 4, 8)
    assert 4 <= ds.sizes["task"] <= 8  # 1-2 tasks per user
    for name in VARIABLES:
        assert name in ds.data_vars, name
    for name, var in ds.data_vars.items():
        assert "units" in var.attrs and "description" in var.attrs, name
    expected = {"rate": "bit/s", "rb_bandwidth": "Hz", "content_bits": "bit", "ttft_edge": "s",
                "tpot_cloud": "s/token", "distance": "m", "user_x": "m"}
    for name, unit in expected.items():
        assert ds[name].attrs["units"] == unit, name
    assert ds["rate"].dims == ("user", "rb")
    assert ds["task_user"].dims == ("task",) and ds["user_cell"].dims == ("user",)
    for key in ("t_back_s", "delivery", "t_target_s", "penalty_s"):
        assert key in ds.attrs
    assert ds.attrs["source"] == "generated"


@pytest.mark.parametrize("sites", [1, 7, 19])
def test_sites_give_cells(sites: int) -> None:
    ds = generate(make_config({"sites": sites, "users": 2, "rbs": 2, "seed": 1}))
    assert ds.sizes["cell"] == sites
    assert ds.sizes["user"] == 2 * sites
    np.testing.assert_array_equal(np.bincount(ds["user_cell"].values, minlength=sites), 2)
    # sites on a hexagonal grid: distinct, nearest neighbour exactly one ISD away
    xy = np.column_stack([ds["site_x"].values, ds["site_y"].values])
    assert np.allclose(xy[0], 0.0)
    if sites > 1:
        dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(dist, np.inf)
        np.testing.assert_allclose(dist.min(axis=1), 500.0)


@pytest.mark.parametrize(("env", "isd", "d_min"), [("UMa", 500.0, 35.0), ("UMi", 200.0, 10.0)])
def test_users_inside_their_hexagon_and_beyond_min_distance(env: str, isd: float,
                                                            d_min: float) -> None:
    ds = generate(make_config({"sites": 19, "users": 25, "rbs": 25, "seed": 4,
                               "environment": env, "isd_m": isd}))
    ux, uy = ds["user_x"].values, ds["user_y"].values
    sx, sy = ds["site_x"].values, ds["site_y"].values
    d = np.hypot(ux[:, None] - sx[None, :], uy[:, None] - sy[None, :])
    own = ds["user_cell"].values
    d_own = d[np.arange(own.size), own]
    # the hexagonal cells of a hex grid are the Voronoi cells of the sites: inside your own
    # hexagon <=> your own site is (one of) the nearest
    assert (d_own <= d.min(axis=1) + 1e-9).all()
    assert (d_own <= isd / math.sqrt(3) + 1e-9).all()  # circumradius of the hexagon
    assert (d_own >= d_min).all()  # TR 38.901 Table 7.2-1 minimum BS-UE distance
    np.testing.assert_allclose(ds["distance"].values, d_own)


def test_cell_edge_users_are_farther_than_uniform() -> None:
    base = {"users": 40, "rbs": 40, "seed": 5, "sites": 7}
    uni = generate(make_config(base))
    edge = generate(make_config({**base, "placement": "cell-edge"}))
    assert edge["distance"].values.mean() > uni["distance"].values.mean() + 20.0
    # cell_edge_ring 0.8 (default): d >= 0.8 * ISD / 2 = 200 m
    assert (edge["distance"].values >= 200.0).all()
    assert (uni["distance"].values < 200.0).any()


def test_default_numerology_106_rbs_of_180_khz() -> None:
    # TS 38.101-1 Table 5.3.2-1: 20 MHz at 15 kHz -> 106 RBs of 12 * 15 kHz = 180 kHz
    ds = generate(make_config({"users": 2, "seed": 0}))
    assert ds.sizes["rb"] == 106
    np.testing.assert_array_equal(ds["rb_bandwidth"].values, 180e3)


def test_30_khz_numerology_51_rbs_of_360_khz() -> None:
    ds = generate(make_config({"users": 2, "seed": 0, "scs_khz": 30}))
    assert ds.sizes["rb"] == 51
    np.testing.assert_array_equal(ds["rb_bandwidth"].values, 360e3)


def test_rbs_override_and_bad_bandwidth() -> None:
    assert generate(make_config({"users": 2, "rbs": 7})).sizes["rb"] == 7
    with pytest.raises(InputError, match="bandwidth_mhz"):
        make_config({"bandwidth_mhz": 17})


def test_rates_are_plausible(small_scenario: xr.Dataset) -> None:
    # a 180 kHz RB carries at most a few Mbit/s at realistic SINR (log2(1 + 1e9) ~ 30 bit/s/Hz)
    rate = small_scenario["rate"].values
    assert (rate >= 0).all() and np.isfinite(rate).all()
    assert rate.max() < 180e3 * 30
    assert rate.mean() > 0


@pytest.mark.parametrize(("share", "expected"), [(0.0, "regular"), (1.0, "preferred")])
def test_quality_share_extremes(share: float, expected: str) -> None:
    ds = generate(make_config({"users": 30, "rbs": 30, "seed": 2, "quality_share": share,
                               "tasks_per_user": (1, 3)}))
    assert (ds["service_class"].values == expected).all()
    pool = {"regular": {"chat", "translation", "summarization"},
            "preferred": {"science", "coding", "math"}}[expected]
    assert set(ds["service"].values.tolist()) <= pool


def test_quality_requirement_tiers(small_scenario: xr.Dataset) -> None:
    # defaults: regular -> "any" (the weaker model), preferred -> "cloud" (the cloud model)
    ds = small_scenario
    pref = ds["service_class"].values == "preferred"
    assert pref.any() and (~pref).any()
    np.testing.assert_allclose(ds["quality_req"].values[pref], ds["quality_cloud"].values[pref])
    np.testing.assert_allclose(ds["quality_req"].values[~pref],
                               np.minimum(ds["quality_edge"], ds["quality_cloud"]).values[~pref])


def test_media_share_one_gives_media_tasks_with_large_content() -> None:
    ds = generate(make_config({"users": 20, "rbs": 20, "seed": 7, "media_share": 1.0}))
    assert set(ds["modality"].values.tolist()) <= {"image", "audio", "video"}
    assert set(ds["service"].values.tolist()) <= {"image", "audio", "video"}
    # smallest media item: 1 image of 500 kB = 4 Mbit, or >= 15 s of 128 kbit/s audio = 1.92 Mbit
    assert ds["content_bits"].values.min() >= 1.9e6
    text = generate(make_config({"users": 20, "rbs": 20, "seed": 7, "media_share": 0.0}))
    assert (text["modality"].values == "text").all()
    # 1000 +- 50 % tokens of 4 B: at most 1500 * 32 bit = 48 kbit
    assert text["content_bits"].values.max() <= 48_000
    np.testing.assert_allclose(text["content_bits"].values, text["units"].values * 32.0)
    # media tasks are generated by the media models
    img = ds["service"].values == "image"
    assert img.any()
    assert set(ds["edge_model"].values[img].tolist()) == {"sd-turbo"}
    assert set(ds["cloud_model"].values[img].tolist()) == {"dall-e-3"}
    np.testing.assert_array_equal(ds["units"].values[img], 1.0)
    np.testing.assert_array_equal(ds["content_bits"].values[img], 500_000 * 8)


def test_token_distribution_fixed_and_mean() -> None:
    ds = generate(make_config({"users": 10, "rbs": 10, "token_distribution": "fixed",
                               "token_mean": 321}))
    np.testing.assert_array_equal(ds["units"].values, 321.0)
    ds = generate(make_config({"users": 200, "rbs": 200, "seed": 1}))
    units = ds["units"].values
    assert units.min() >= 500 and units.max() <= 1500  # uniform 1000 +- 50 %
    assert units.mean() == pytest.approx(1000, rel=0.05)
    np.testing.assert_array_equal(units, np.round(units))


def test_netcdf_round_trip(tmp_path, multi_cell_scenario: xr.Dataset) -> None:
    path = save(multi_cell_scenario, tmp_path / "sub" / "s.nc")
    assert path.exists()
    back = load_scenario(path)
    xr.testing.assert_identical(back, multi_cell_scenario)
    assert [p.name for p in path.parent.iterdir()] == ["s.nc"]  # no temporary file left


def test_netcdf_round_trip_of_an_explicit_scenario(tmp_path, make_doc) -> None:
    ds = from_document(make_doc(settings={"delivery": "streamed", "slo": "soft"}))
    back = load_scenario(save(ds, tmp_path / "e.nc"))
    xr.testing.assert_identical(back, ds)


def test_load_scenario_detects_the_format_from_the_content(tmp_path, make_doc) -> None:
    doc = make_doc()
    (tmp_path / "scenario.nc").write_text(json.dumps(doc))  # JSON with a NetCDF suffix
    via_json = load_scenario(tmp_path / "scenario.nc")
    np.testing.assert_array_equal(via_json["rate"].values, doc["rate_bps"])
    save(via_json, tmp_path / "real.bin")
    assert load_scenario(tmp_path / "real.bin").identical(via_json)


@pytest.mark.parametrize("engine", ["h5netcdf", "scipy"])  # NetCDF-4 and classic NetCDF-3
def test_minimal_netcdf_form(tmp_path, engine: str) -> None:
    ds = xr.Dataset(
        {"rate": (("user", "rb"), np.array([[9.5e5, 7.2e5], [4.1e5, 5.3e5]])),
         "user_cell": (("user",), np.array([0, 0])),
         "task_user": (("task",), np.array([0, 1])),
         "service": (("task",), np.array(["chat", "math"])),
         "units": (("task",), np.array([800.0, 1200.0]))},
        attrs={"t_back_s": 0.07})
    ds.to_netcdf(tmp_path / "min.nc", engine=engine)
    full = load_scenario(tmp_path / "min.nc")
    assert full.attrs["t_back_s"] == 0.07
    np.testing.assert_array_equal(full["content_bits"].values, [800 * 32, 1200 * 32])
    assert full["service_class"].values.tolist() == ["regular", "preferred"]


def test_explicit_rate_bps(make_doc) -> None:
    doc = make_doc(tasks=[{"user": 0, "service": "chat", "output_tokens": 100},
                          {"user": 1, "service": "video", "output_tokens": 5,
                           "content_bytes": 3_000_000},
                          {"user": 1, "service": "coding", "output_tokens": 7,
                           "quality_requirement": 0.5}])
    ds = from_document(doc)
    np.testing.assert_array_equal(ds["rate"].values, doc["rate_bps"])
    np.testing.assert_array_equal(ds["rb_bandwidth"].values, 180e3)
    # 100 tokens * 4 B * 8; explicit 3 MB * 8; 7 * 32
    np.testing.assert_array_equal(ds["content_bits"].values, [3200.0, 24e6, 224.0])
    # "any" tier = the weaker model: llama3-8b 0.684; edge-video 0.60 (cloud-video 0.90); given 0.5
    np.testing.assert_allclose(ds["quality_req"].values, [0.684, 0.60, 0.5])
    assert ds["modality"].values.tolist() == ["text", "video", "text"]
    assert ds.attrs["source"] == "explicit" and ds.sizes["cell"] == 1


def test_explicit_gain_form_gives_the_expected_rate() -> None:
    # SINR = p g / (I + N):
    #   user 0: 1 W * 15e-12 / (0 + 1e-12) = 15 -> 180 kHz * log2(16) = 720 kbit/s
    #           1 W * 3e-12 / 1e-12 = 3      -> 180 kHz * log2(4)  = 360 kbit/s
    #   user 1: 1 W * 9e-12 / (2e-12 + 1e-12) = 3 -> 360 kbit/s ; 0 gain -> 0
    doc = {"user_cell": [0, 0], "gain": [[15e-12, 3e-12], [9e-12, 0.0]],
           "tx_power_w": 1.0, "noise_w": 1e-12, "interference_w": [[0.0, 0.0], [2e-12, 0.0]],
           "tasks": [{"user": 0, "service": "chat", "output_tokens": 10}]}
    ds = from_document(doc)
    np.testing.assert_allclose(ds["rate"].values, [[720e3, 360e3], [360e3, 0.0]], rtol=1e-12)


def test_explicit_gain_form_per_rb_power_bandwidth_and_log_base() -> None:
    # RB 0: 360 kHz, p = 2 W, g = 4.5e-12, N = 1e-12 -> SINR 9 -> log10(10) = 1 -> 360 kbit/s
    # RB 1: 180 kHz, p = 1 W, g = 99e-12            -> SINR 99 -> log10(100) = 2 -> 360 kbit/s
    doc = {"user_cell": [0], "gain": [[4.5e-12, 99e-12]], "tx_power_w": [2.0, 1.0],
           "rb_bandwidth_hz": [360e3, 180e3], "noise_w": 1e-12,
           "tasks": [{"user": 0, "service": "chat", "output_tokens": 10}],
           "settings": {"log_base": 10}}
    ds = from_document(doc)
    np.testing.assert_allclose(ds["rate"].values, [[360e3, 360e3]], rtol=1e-12)
    np.testing.assert_array_equal(ds["rb_bandwidth"].values, [360e3, 180e3])


def test_explicit_needs_rates_or_gains(make_doc) -> None:
    doc = make_doc()
    del doc["rate_bps"]
    with pytest.raises(InputError, match="rate_bps"):
        from_document(doc)
    with pytest.raises(InputError, match="rate_bps"):
        from_document(make_doc(rate_bps=[[1e6, 2e6]]))  # one row for two users


def test_read_config_file_toml_and_json(tmp_path, data_dir) -> None:
    (tmp_path / "c.toml").write_text("users = 3\nrbs = 6\ntasks_per_user = [1, 2]\n")
    (tmp_path / "c.json").write_text('{"users": 3, "rbs": 6, "tasks_per_user": [1, 2]}')
    a = make_config(read_config_file(tmp_path / "c.toml"))
    b = make_config(read_config_file(tmp_path / "c.json"))
    assert a == b and a.tasks_range == (1, 2) and a.n_rb == 6
    with pytest.raises(InputError, match=r"config\.t_bak_s: unknown key"):
        make_config(read_config_file(data_dir / "f_unknown_key.toml"))
    with pytest.raises(InputError, match="no such file"):
        read_config_file(tmp_path / "missing.toml")
