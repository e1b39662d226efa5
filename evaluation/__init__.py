"""Kith's evaluation, apart from the product: the recommenders' common interface and baselines,
the benchmark runners (ReDial, Last.fm, scripted dialogues, base vs adapter) and their reports."""
