rule levels:
    input:
        reference_prepped,
    output:
        report(f"{OUT}/levels.yaml", caption="../report/levels.rst", category="Levels"),
    log:
        f"{OUT}/logs/levels.log",
    benchmark:
        f"{OUT}/benchmarks/levels.tsv"
    conda:
        "../envs/aia.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        reference=config["reference"],
        channels=CHANNELS,
        low=config["levels"]["low"],
        high=config["levels"]["high"],
    script:
        "../scripts/levels.py"
