rule render:
    input:
        triplets=batch_table,
        levels=f"{OUT}/levels.yaml",
    output:
        frames=directory(f"{OUT}/frames/{{batch}}"),
        frame_list=f"{OUT}/frame_lists/{{batch}}.csv",
        skipped=f"{OUT}/skipped/{{batch}}.csv",
    log:
        f"{OUT}/logs/render/{{batch}}.log",
    benchmark:
        f"{OUT}/benchmarks/render/{{batch}}.tsv"
    conda:
        "../envs/aia.yaml"
    threads: render_threads
    resources:
        mem_mb=render_mem_mb,
        runtime=batch_runtime,
    params:
        triplets=batch_triplets,
        stamps=batch_stamps,
        channels=CHANNELS,
        prep=config["prep"],
        gamma=config["gamma"],
        look=configuration.look(config),
        quality=config["jpeg_quality"],
    script:
        "../scripts/render.py"
