"""Reservoir computing: the standard benchmark tasks (memory capacity, NARMA, Mackey-Glass),
their generators and their metrics."""
