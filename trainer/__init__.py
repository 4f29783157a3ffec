"""Host side of ecg-edge: data sets, training, compression and export."""
