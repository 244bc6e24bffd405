#include "service/core/send_record.h"

namespace sendgate::core {

absl::string_view FieldName(Field field) {
  switch (field) {
    case Field::kChannel: return "channel";
    case Field::kCategory: return "category";
    case Field::kSubscription: return "subscription";
    case Field::kProgram: return "program";
    case Field::kCampaign: return "campaign";
    case Field::kEdition: return "edition";
  }
  return "?";
}

}  // namespace sendgate::core
