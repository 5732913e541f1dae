"""Workers: task workers, the process worker and job configuration templating."""
