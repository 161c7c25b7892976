"""Split inference of an LLM between the user equipment and the edge (issue 15)."""
