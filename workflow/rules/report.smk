rule thumbnails:
    input:
        frame_index=f"{OUT}/frames.csv",
        frames=frame_folders,
    output:
        report(
            f"{OUT}/report/thumbnails.jpg",
            caption="../report/thumbnails.rst",
            category="Frames",
        ),
    log:
        f"{OUT}/logs/thumbnails.log",
    conda:
        "../envs/aia.yaml"
    resources:
        mem_mb=500,
        runtime=10,
    params:
        most=48,
    script:
        "../scripts/thumbnails.py"


rule skipped_table:
    input:
        f"{OUT}/skipped.csv",
    output:
        report(
            f"{OUT}/report/skipped.html",
            caption="../report/skipped.rst",
            category="Skipped",
        ),
    log:
        f"{OUT}/logs/skipped_table.log",
    localrule: True
    conda:
        "../envs/aia.yaml"
    script:
        "../scripts/skipped_table.py"
