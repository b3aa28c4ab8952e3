"""Xinlian (心联): a school's mental-health work network."""
