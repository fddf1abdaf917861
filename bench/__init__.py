"""`make bench`: Threadline's figures against their floors, measured side by side in one run."""
