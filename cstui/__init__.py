"""cstui: an offline terminal workbench for evaluating customer-service LLM systems."""

__version__ = "0.1.0"
