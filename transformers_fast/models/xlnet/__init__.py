"""xlnet model family."""
