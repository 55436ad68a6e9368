rule demo_data:
    output:
        directory(DEMO_DIR),
    log:
        f"{OUT}/logs/demo_data.log",
    conda:
        "../envs/aia.yaml"
    threads: 2
    params:
        triplets=config["demo"]["triplets"],
        size=config["demo"]["size"],
        seed=config["demo"]["seed"],
        channels=CHANNELS,
    script:
        "../scripts/demo_data.py"
