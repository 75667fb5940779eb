import os

from edgekd.quiet import native_stderr_filtered


def test_native_notice_dropped_and_other_lines_kept(capfd):
    with native_stderr_filtered(("INFO: Created",)):
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"ERROR: something real\n")
    err = capfd.readouterr().err
    assert "XNNPACK" not in err and "ERROR: something real" in err
