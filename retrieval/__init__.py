"""Data at rest: schemas, ingestion, embeddings, the Chroma store, the social graph, ranking."""
