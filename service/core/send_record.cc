#include "service/core/send_record.h"

namespace sendgate::core {

bool PlannedSend::SameSend(const FieldIds& other) const {
  return id(Field::kCampaign) == other[static_cast<int>(Field::kCampaign)] &&
         id(Field::kEdition) == other[static_cast<int>(Field::kEdition)];
}

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
