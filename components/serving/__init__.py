"""Service layer: DeepSeek models on Triton, sized and checked at preview."""
