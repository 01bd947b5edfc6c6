/* img_save(): see image.h; written below. */
