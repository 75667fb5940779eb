import pytest

from edgekd.bench.roofline import matmul_peak_gflops, roofline_fields


def test_peak_is_measured_and_cached():
    peak = matmul_peak_gflops(1, size=256, repeats=2)
    assert peak > 1.0  # any CPU does a 256² matmul at more than a GFLOP/s
    assert matmul_peak_gflops(1, size=256, repeats=2) == peak


def test_fraction_of_peak_from_macs_and_latency(monkeypatch):
    import edgekd.bench.roofline as roofline

    monkeypatch.setattr(roofline, "matmul_peak_gflops", lambda threads: 100.0)
    fields = roofline_fields(macs=1_000_000, batch_size=2, latency_ms_p50=0.1, threads=1)
    assert fields["gflops"] == pytest.approx(40.0)  # 2 FLOPs × 1M MACs × 2 samples in 0.1 ms
    assert fields["gflops_fraction_of_peak"] == pytest.approx(0.4)
    assert roofline_fields(None, 1, 0.1, 1)["gflops_fraction_of_peak"] is None
