"""On-call schedules: layers of rotations, restrictions, overrides, who is on call, iCal."""
