"""`make bench`: every benchmark, in one run, printing medians and ratios."""
import bench_bptt
import bench_build
import bench_widgets

if __name__ == "__main__":
    bench_bptt.main()
    bench_bptt.scaling()
    bench_widgets.main()
    bench_build.main()
