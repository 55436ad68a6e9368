rule segment:
    input:
        unpack(previous_frames),
        unpack(track_frames),
        frames=f"{OUT}/frames/{{batch}}",
        frame_list=f"{OUT}/frame_lists/{{batch}}.csv",
    output:
        f"{OUT}/segments/{{movie}}/{{batch}}.mp4",
    log:
        f"{OUT}/logs/segment/{{movie}}/{{batch}}.log",
    benchmark:
        f"{OUT}/benchmarks/segment/{{movie}}/{{batch}}.tsv"
    wildcard_constraints:
        movie=r"[A-Za-z0-9_.-]+",
    conda:
        "../envs/aia.yaml"
    resources:
        mem_mb=600,
        runtime=segment_runtime,
    params:
        settings=movie_settings,
        slots=segment_slots,
        previous=previous_triplet,
        track=track_settings,
        key=stages.key_colours(configuration.look(config), CHANNELS),
    script:
        "../scripts/segment.py"


rule movie:
    input:
        triplets=f"{OUT}/triplets.csv",
        frame_lists=frame_lists,
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
        frames_dir=f"{OUT}/frames",
    script:
        "../scripts/movie.py"
