rule movie:
    input:
        frame_index=frame_index,
        frames=frames,
    output:
        report(
            f"{OUT}/movies/{{movie}}.mp4",
            caption="../report/movie.rst",
            category="Movies",
        ),
    log:
        f"{OUT}/logs/movie/{{movie}}.log",
    benchmark:
        f"{OUT}/benchmarks/movie/{{movie}}.tsv"
    wildcard_constraints:
        movie=r"[A-Za-z0-9_.-]+",
    conda:
        "../envs/aia.yaml"
    threads: 4
    resources:
        mem_mb=1000,
        runtime=movie_runtime,
    params:
        settings=movie_settings,
        frames_dir=f"{OUT}/frames",
        key=stages.key_colours(configuration.look(config), CHANNELS),
    script:
        "../scripts/movie.py"
