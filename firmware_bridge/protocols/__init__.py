"""Lock-board wire protocols: one module per protocol, each a frame table plus typed encode/decode helpers."""
