"""Documents for retrieval: parsing, chunking, embedding, the vector store and search."""
