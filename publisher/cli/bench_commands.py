"""``publisher bench IR_DIR``."""

from __future__ import annotations

import click

from publisher.cli import output


@click.command()
@click.argument("ir_dir", type=click.Path(file_okay=False))
@click.option("--seq-len", type=int, default=128, show_default=True, help="Sequence length of the inputs.")
@click.option("--seconds", type=float, default=10.0, show_default=True, help="Measuring time in all.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def bench(ir_dir: str, seq_len: int, seconds: float, as_json: bool) -> None:
    """Latency (batch 1) and throughput of the IR in IR_DIR on this CPU, with OpenVINO."""
    import dataclasses

    from rich.table import Table

    from publisher.bench import benchmark_ir

    result = benchmark_ir(ir_dir, seq_len=seq_len, seconds=seconds)
    if as_json:
        output.print_json(dataclasses.asdict(result))
        return
    table = Table(title=f"OpenVINO {result.openvino} on {result.cpu} (sequence length {seq_len})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("latency, batch 1, median (ms)", f"{result.latency_ms['median']:.2f}")
    table.add_row("latency, batch 1, p90 (ms)", f"{result.latency_ms['p90']:.2f}")
    t = result.throughput
    table.add_row(f"throughput (samples/s, batch {t['batch']}, {t['streams']} streams)",
                  f"{t['samples_per_second']:.1f}")
    s = result.sparse_decompression
    table.add_row("sparse-weight decompression",
                  f"{s['samples_per_second']:.1f} samples/s at rate {s['rate']}" if s["supported"]
                  else "not supported on this CPU (needs AMX)")
    output.stdout.print(table)

COMMANDS = [bench]
