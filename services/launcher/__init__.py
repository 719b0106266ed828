"""The local launcher behind `make up`: a whole kubemu cluster as separate OS processes.

It is not a component of the cluster and imports none of them: it starts each one the way a
user would (`python -m services.<component> --flags`), waits for its health endpoint, and stops
them in reverse order.
"""
