"""The LLM runtimes, one module each, behind one interface.

- `base`: `Message`, the `LLMRuntime` protocol, `SerialRuntime` (one runtime shared by threads)
  and the errors any runtime may raise (`LLMUnavailable`, `EndpointError`). Imports no runtime.
- `llamacpp`: the default model's 4-bit GGUF on llama.cpp (the default on a CPU).
- `transformers`: any Hugging Face folder on transformers (GPU, full precision, training).
- `remote`: an OpenAI-compatible `/v1/completions` endpoint.
- `adapters`: a PEFT LoRA adapter converted to llama.cpp's GGUF LoRA.
- `chat_model`: any runtime as a LangChain chat model (tool calls and structured output through
  `generate_json`).
- `factory`: `choose_runtime` and `open_runtime`, the only module that imports the runtimes
  (each when it is chosen), and `Runtimes`, the LLM a process shares for replies and reading.

Importing this package imports none of them: it loads neither torch nor llama.cpp.
"""
