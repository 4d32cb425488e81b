"""Applications built on the library, apart from it: what the `ramcore` command runs.

`graphs` (build, list and certify graphs), `demo` (sparse training on the bundled digits),
`sequence_demo` (sparse LSTMs reading the digits row by row, seed 003),
`rank_demo` (seed 004's prediction and ranking pipeline) and `topometrics` (a zoo model's
topometrics). `ramcore.cli` parses the command line and calls the `main`-style functions here.
"""
