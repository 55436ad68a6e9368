rule preview_reference:
    input:
        preview_files,
    output:
        directory(f"{OUT}/preview/reference"),
    log:
        f"{OUT}/logs/preview/reference.log",
    benchmark:
        f"{OUT}/benchmarks/preview/reference.tsv"
    conda:
        "../envs/aia.yaml"
    threads: all_cores
    resources:
        mem_mb=800,
        runtime=10,
    params:
        triplets=reference_triplets,
        reference=config["reference"],
        channels=CHANNELS,
        prep=config["prep"],
    script:
        "../scripts/preview_reference.py"


rule preview_look:
    input:
        f"{OUT}/preview/reference",
        table=look_table,
    output:
        sun=f"{OUT}/preview/{{look}}.jpg",
        detail=f"{OUT}/preview/{{look}}_detail.jpg",
    log:
        f"{OUT}/logs/preview/{{look}}.log",
    benchmark:
        f"{OUT}/benchmarks/preview/{{look}}.tsv"
    priority: look_priority
    conda:
        "../envs/aia.yaml"
    resources:
        mem_mb=preview_mem_mb,
        runtime=10,
    params:
        channels=CHANNELS,
        settings=look_settings,
        size=config["preview"]["size"],
        detail=config["preview"]["detail"],
        quality=config["jpeg_quality"],
        detail_track=detail_track,
        prep=config["prep"],
    script:
        "../scripts/preview_look.py"


rule preview_sheet:
    input:
        suns=expand(f"{OUT}/preview/{{look}}.jpg", look=LOOKS),
        details=expand(f"{OUT}/preview/{{look}}_detail.jpg", look=LOOKS),
    output:
        report(
            f"{OUT}/preview/sheet.jpg",
            caption="../report/preview_sheet.rst",
            category="Preview",
        ),
    log:
        f"{OUT}/logs/preview/sheet.log",
    conda:
        "../envs/aia.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        changes=look_changes(),
    script:
        "../scripts/preview_sheet.py"


rule histograms:
    input:
        f"{OUT}/preview/reference",
    output:
        report(
            f"{OUT}/preview/histograms.png",
            caption="../report/histograms.rst",
            category="Levels",
        ),
    log:
        f"{OUT}/logs/preview/histograms.log",
    benchmark:
        f"{OUT}/benchmarks/preview/histograms.tsv"
    conda:
        "../envs/aia.yaml"
    threads: all_cores
    resources:
        mem_mb=800 + len(CHANNELS) * ENHANCE_MB,
        runtime=10,
    params:
        channels=CHANNELS,
        low=config["levels"]["low"],
        high=config["levels"]["high"],
        enhancements=configuration.enhancements(config),
    script:
        "../scripts/histograms.py"


rule preview:
    input:
        preview_outputs(),
    localrule: True
