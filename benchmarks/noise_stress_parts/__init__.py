"""The parts of benchmarks/noise_stress.py, one job each: the worker's loaded models and noise
(context), the protocol's mix of a record and noise and its check against the published records
(mixing), the spans that justify a critical alarm (critical_events), one record x noise x SNR
streamed and scored (scoring), and the conditions summed and printed (summary)."""
