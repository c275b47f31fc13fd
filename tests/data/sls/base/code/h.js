exports.h = 1
