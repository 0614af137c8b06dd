"""From-scratch NumPy versions of what the course derives by hand (perceptron, backprop, BPTT, cells)."""
