"""The python-spawn row of colony_bench: Python's multiprocessing.Process with
the "spawn" start method, the nearest thing Python has to a worker.

    python3 python_spawn.py COUNT WARMUP SECONDS

Times COUNT starts (after WARMUP untimed ones), each from p.start() until the
parent has the child's answer: the parent sends a number through a duplex
Pipe right after start(), the child sends it back, as colony_bench's
worker-start row posts a message to a new worker and waits for the echo.
Prints one "sample_ns <n>" line per timed start, then "done"; on a failure an
"error <text>" line and exit status 1. Gives up when SECONDS have passed.
"""

import multiprocessing
import multiprocessing.connection
import sys
import time


def echo(connection):
    connection.send(connection.recv())
    connection.close()


def main():
    count, warmup, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    deadline = time.monotonic() + seconds
    context = multiprocessing.get_context("spawn")
    for i in range(warmup + count):
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(target=echo, args=(theirs,))
        start = time.perf_counter_ns()
        process.start()
        ours.send(i)
        if not multiprocessing.connection.wait([ours], max(deadline - time.monotonic(), 0.0)):
            process.kill()
            process.join()
            print(f"error start {i} got no answer before the deadline", flush=True)
            return 1
        answer = ours.recv()
        end = time.perf_counter_ns()
        theirs.close()
        ours.close()
        process.join(max(deadline - time.monotonic(), 0.0))
        if process.exitcode is None:
            process.kill()
            process.join()
            print(f"error start {i} did not end before the deadline", flush=True)
            return 1
        if answer != i or process.exitcode != 0:
            print(f"error start {i}: answer {answer!r}, exit code {process.exitcode}", flush=True)
            return 1
        if i >= warmup:
            print(f"sample_ns {end - start}", flush=True)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
