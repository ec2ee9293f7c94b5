"""Reference solutions of the build-it-yourself tasks, one module per lesson, written as a learner would.

A teacher opens these files; a learner sees one only on purpose, with
``ql.exercises.solution("<task>")`` (folded until opened).
"""
