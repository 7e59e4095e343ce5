"""Loading, checking, profiling and splitting the data of a brief."""
