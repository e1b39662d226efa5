"""The conversation: sentiment, profile, the turn pipeline, LLM runtime, sessions, UI, API, CLI."""
