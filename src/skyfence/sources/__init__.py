"""Sources: readers and listeners for recordings and feeds (SigMF, WAV, pcap, ASTERIX, ADS-B)."""

__all__: list[str] = []
