"""Language models behind one small protocol: the embedded GGUF model by default, Ollama by setting."""
