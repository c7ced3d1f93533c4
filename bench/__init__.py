"""`make bench`: parse and end-to-end benchmarks, ours beside hl7apy and python-hl7."""
