"""The dev question set's builder: its data files and its questions, one module per family."""
