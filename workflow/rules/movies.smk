if MOVIES:

    rule segments:
        input:
            segment_inputs,
        output:
            [f"{OUT}/segments/{movie}/{{batch}}.mp4" for movie in MOVIES],
        log:
            f"{OUT}/logs/segments/{{batch}}.log",
        benchmark:
            f"{OUT}/benchmarks/segments/{{batch}}.tsv"
        conda:
            "../envs/aia.yaml"
        threads: render_threads
        resources:
            mem_mb=segments_mem_mb,
            runtime=segment_runtime,
        params:
            movies=segment_params,
        script:
            "../scripts/segment.py"


rule movie:
    input:
        triplets=f"{OUT}/triplets.csv",
        frame_lists=movie_frame_lists,
        segments=movie_segments,
    output:
        report(
            f"{OUT}/movies/{{movie}}.mp4",
            caption="../report/movie.rst",
            category="Movies",
        ),
    log:
        f"{OUT}/logs/movie/{{movie}}.log",
    wildcard_constraints:
        movie=r"[A-Za-z0-9_.-]+",
    conda:
        "../envs/aia.yaml"
    resources:
        mem_mb=500,
        runtime=join_runtime,
    params:
        settings=movie_settings,
        frames_dir=movie_frames_dir,
    script:
        "../scripts/movie.py"
