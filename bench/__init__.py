"""The benchmark (`welfare-watch bench`): a simulated city through the real stack, measured
against the machine's own limits in the same run (issue 11)."""
