checkpoint frame_list:
    input:
        f"{OUT}/rendered/{{batch}}",
    output:
        f"{OUT}/frame_lists/{{batch}}.csv",
    log:
        f"{OUT}/logs/frame_list/{{batch}}.log",
    localrule: True
    shell:
        "cp {input}/frames.csv {output} > {log} 2>&1"


rule frame:
    input:
        rendered_batch,
    output:
        f"{OUT}/frames/{{frame}}.jpg",
    log:
        f"{OUT}/logs/frame/{{frame}}.log",
    localrule: True
    shell:
        "ln -f {input}/{wildcards.frame}.jpg {output} > {log} 2>&1"
