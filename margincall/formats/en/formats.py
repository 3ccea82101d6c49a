"""Dates as the console reads them typed in English: year first (2027-03-30). Django's English formats
read 03/07/2027 as 7 March, where a Hong Kong desk means 3 July: a date with slashes is refused rather
than read the wrong way round. The Chinese formats are year first already."""

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%Y/%m/%d"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
]
