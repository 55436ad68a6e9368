rule levels:
    input:
        reference_files,
    output:
        report(f"{OUT}/levels.yaml", caption="../report/levels.rst", category="Levels"),
    log:
        f"{OUT}/logs/levels.log",
    benchmark:
        f"{OUT}/benchmarks/levels.tsv"
    conda:
        "../envs/aia.yaml"
    threads: all_cores
    resources:
        mem_mb=800 + len(CHANNELS) * ENHANCE_MB,
        runtime=10,
    params:
        triplets=reference_triplets,
        reference=config["reference"],
        channels=CHANNELS,
        low=config["levels"]["low"],
        high=config["levels"]["high"],
        prep=config["prep"],
        enhancements=configuration.enhancements(config),
    script:
        "../scripts/levels.py"


rule product_levels:
    input:
        files=reference_files,
        levels=f"{OUT}/levels.yaml",
    output:
        f"{OUT}/products/{{product}}/levels.yaml",
    log:
        f"{OUT}/logs/product_levels/{{product}}.log",
    conda:
        "../envs/aia.yaml"
    threads: all_cores
    resources:
        mem_mb=800 + len(CHANNELS) * ENHANCE_MB,
        runtime=10,
    params:
        triplets=reference_triplets,
        spec=product_level_settings,
        channels=CHANNELS,
        prep=config["prep"],
    script:
        "../scripts/product_levels.py"
