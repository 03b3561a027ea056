"""The review core: model, pipeline, audit. Imports neither Textual nor openai (checked by lint-imports)."""
