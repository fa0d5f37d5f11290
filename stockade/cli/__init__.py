"""The command line: argument parsing, exit codes, and the one place errors are handled."""
