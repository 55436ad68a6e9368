rule frame:
    input:
        f"{OUT}/scaled/{{batch}}",
    output:
        f"{OUT}/frame_lists/{{batch}}.csv",
    log:
        f"{OUT}/logs/frame/{{batch}}.log",
    benchmark:
        f"{OUT}/benchmarks/frame/{{batch}}.tsv"
    conda:
        "../envs/aia.yaml"
    resources:
        mem_mb=1500,
        runtime=batch_runtime,
    params:
        frames_dir=f"{OUT}/frames",
        channels=CHANNELS,
        mix=config["mix"],
        scalemin=config["scalemin"],
        lab=config["lab"]["factors"] if config["lab"]["enabled"] else None,
        lmin=config["lab"]["lmin"],
        crop=config["crop"],
        quality=config["jpeg_quality"],
    script:
        "../scripts/frame.py"
