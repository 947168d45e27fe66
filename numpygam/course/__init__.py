"""numpygam.course: what an instructor hands out and grades.

    exercises.py   the table of exercises (functions to write, checks, walkthroughs)
    homework.py    writes each exercise as one short file (a notebook too)
    grading.py     runs and grades submissions, one student or a whole class
    lessons.py     the lessons as clean .ipynb notebooks
"""
