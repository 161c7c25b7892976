"""Split inference of an LLM between the user equipment and the edge (issue 15).

``config`` (LLM configs, devices), ``equations`` (S1)-(S9), ``channel`` (S10)-(S12),
``problem`` (actions, objectives (S13), (S14)), ``cache`` (measurement cache) and ``quality``
(the real perplexity in PyTorch, ``torchllm`` extra). See ``docs/split.md``.
"""
