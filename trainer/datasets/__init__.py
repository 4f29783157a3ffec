"""Real ECG data sets read with wfdb from the layouts PhysioNet publishes."""
