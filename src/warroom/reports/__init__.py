"""Reports over many incidents: counts, MTTD/MTTA/MTTM/MTTR, overdue postmortem work, CSV."""
